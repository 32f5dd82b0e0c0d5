output "vpc_id" {
  description = "ID of the VPC."
  value       = try(aws_vpc.this[0].id, null)
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = try(aws_vpc.this[0].cidr_block, null)
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone, in the order of var.azs."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (NAT only); empty without a NAT gateway."
  value       = aws_subnet.public[*].id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security group egress rules to S3."
  value       = try(aws_vpc_endpoint.s3[0].prefix_list_id, null)
}

output "endpoints_security_group_id" {
  description = "Security group of the interface endpoints: tasks need egress to it on 443."
  value       = try(aws_security_group.endpoints[0].id, null)
}

output "nat_public_ip" {
  description = "Public IP of the NAT gateway, the source address of calls to external APIs (for allow-lists)."
  value       = try(aws_eip.nat[0].public_ip, null)
}
