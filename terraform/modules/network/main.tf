data "aws_region" "current" {}

locals {
  create    = var.create
  n_azs     = length(var.azs)
  flow_logs = local.create && var.flow_log_retention_days > 0

  private_cidrs = [for i in range(local.n_azs) : cidrsubnet(var.cidr, var.subnet_newbits, i)]
  public_cidrs  = [for i in range(local.n_azs) : cidrsubnet(var.cidr, var.subnet_newbits, i + local.n_azs)]
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  count = local.create ? 1 : 0

  cidr_block = var.cidr
  # Private DNS of the interface endpoints needs both.
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge({ Name = var.name }, var.tags)
}

# The default security group allows all traffic between its members; nothing
# should use it, so it is emptied.
resource "aws_default_security_group" "this" {
  count = local.create ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-default-unused" }, var.tags)
}

################################################################################
# Private subnets: every wattcast task and the MSK brokers
################################################################################

resource "aws_subnet" "private" {
  count = local.create ? local.n_azs : 0

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.private_cidrs[count.index]
  availability_zone = var.azs[count.index]

  tags = merge({ Name = "${var.name}-private-${var.azs[count.index]}", Tier = "private" }, var.tags)
}

resource "aws_route_table" "private" {
  count = local.create ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-private" }, var.tags)
}

resource "aws_route_table_association" "private" {
  count = local.create ? local.n_azs : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

################################################################################
# Public subnets and NAT: egress to the public price and weather APIs
################################################################################

resource "aws_subnet" "public" {
  count = local.create && var.enable_nat_gateway ? local.n_azs : 0

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.public_cidrs[count.index]
  availability_zone = var.azs[count.index]
  # Only the NAT gateway lives here; nothing gets a public IP by default.
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-public-${var.azs[count.index]}", Tier = "public" }, var.tags)
}

resource "aws_internet_gateway" "this" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_route_table" "public" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-public" }, var.tags)
}

resource "aws_route" "public_internet" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.create && var.enable_nat_gateway ? local.n_azs : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  domain = "vpc"

  tags = merge({ Name = "${var.name}-nat" }, var.tags)
}

# One NAT gateway: egress is light (API polls every few minutes) and a zone
# outage only delays polling, which the producers catch up on.
resource "aws_nat_gateway" "this" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id

  tags = merge({ Name = var.name }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route" "private_nat" {
  count = local.create && var.enable_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.private[0].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}
