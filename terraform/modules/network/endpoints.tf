################################################################################
# VPC endpoints: S3 (gateway), ECR, CloudWatch Logs, STS (interface)
################################################################################

resource "aws_vpc_endpoint" "s3" {
  count = local.create ? 1 : 0

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]

  tags = merge({ Name = "${var.name}-s3" }, var.tags)
}

resource "aws_security_group" "endpoints" {
  count = local.create ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "HTTPS from the VPC to the interface endpoints"
  vpc_id      = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-endpoints" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count = local.create ? 1 : 0

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.cidr
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.create ? var.interface_endpoints : toset([])

  vpc_id              = aws_vpc.this[0].id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge({ Name = "${var.name}-${each.value}" }, var.tags)
}
