# DynamoDB tables (hot state, idempotency) and SSM parameters (secrets).

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is billed per GB-month outside the free tier; the state is rebuilt from candles and the ledger lives in Cosmos DB.
  #checkov:skip=CKV_AWS_119:A customer managed KMS key costs 1 USD a month; the table is encrypted at rest with the AWS owned key.
  #checkov:skip=CKV2_AWS_16:Auto scaling needs CloudWatch alarms, which are billed; fixed provisioned capacity stays inside the free 25 RCU / 25 WCU.
  for_each = local.tables

  name           = "${var.name_prefix}-${each.key}"
  billing_mode   = "PROVISIONED" # on-demand is never free: the free tier covers provisioned capacity only
  read_capacity  = each.value.rcu
  write_capacity = each.value.wcu
  hash_key       = each.value.hash_key
  range_key      = each.value.range_key

  attribute {
    name = each.value.hash_key
    type = each.value.hash_type
  }
  dynamic "attribute" {
    for_each = each.value.range_key == null ? [] : [1]
    content {
      name = each.value.range_key
      type = each.value.range_type
    }
  }

  # Expired items (candles, idempotency records, leases) are deleted for free, keeping storage small.
  ttl {
    enabled        = true
    attribute_name = each.value.ttl
  }

  # Encrypted at rest with the AWS owned key (no server_side_encryption block): free, where a KMS key is not.

  tags = var.tags
}

# One SecureString per secret given (standard tier and the AWS managed key aws/ssm: both free). The value
# comes from a sensitive variable; Terraform keeps it in its state, so keep the state private.
resource "aws_ssm_parameter" "secret" {
  #checkov:skip=CKV_AWS_337:A customer managed KMS key costs 1 USD a month; SecureString with the AWS managed key aws/ssm is free.
  for_each = local.secrets

  name        = each.value.path
  description = "Coinswarm ${each.key} (several comma-separated during a rotation, where the code allows it)"
  type        = "SecureString" # standard tier: free
  value       = var.secrets[each.key]
  tags        = var.tags
}

moved {
  from = aws_ssm_parameter.manual_trade_secret[0]
  to   = aws_ssm_parameter.secret["manual_trade_secret"]
}
