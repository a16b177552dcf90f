# The owner's remote control on AWS (docs/remote-control.md): the telegram_webhook function behind a
# Function URL (Telegram's updates at /telegram, the status page at /, its JSON at /status), its three
# secrets as SSM SecureString parameters, and the alarms that notify the owner through it: the heartbeat
# (no cycle for three periods) and a message landing in a dead-letter queue. Created only when
# var.remote_control.enabled (the budget counts it only then: coinswarm.budget.usage.remote_deployed).

variable "remote_control" {
  type = object({
    enabled      = optional(bool, false)
    late_periods = optional(number, 3)
    dead_letters = optional(bool, true)
  })
  default     = {}
  description = "The remote control: whether to deploy telegram_webhook (beside manual_trade), after how many periods without a cycle the heartbeat alarm fires, and whether each dead-letter queue gets an alarm (one per queue: with the heartbeat at most five of the ten free alarms). Its name is function_names.telegram_webhook."
}

variable "remote_secrets" {
  type = object({
    telegram_bot_token      = optional(string)
    telegram_webhook_secret = optional(string)
    status_token            = optional(string)
  })
  sensitive   = true
  default     = {}
  description = "notify.telegram_bot_token, remote.telegram_webhook_secret and remote.status_token: each an SSM SecureString only telegram_webhook reads (SECRET_SETTINGS). Give them as TF_VAR_remote_secrets, never in a file."
}

locals {
  remote_on   = var.remote_control.enabled
  remote_name = lookup(var.function_names, "telegram_webhook", "${var.name_prefix}-telegram-webhook")
  remote_secret_specs = {
    telegram_bot_token      = { parameter = "telegram-bot-token", setting = "notify.telegram_bot_token" }
    telegram_webhook_secret = { parameter = "telegram-webhook-secret", setting = "remote.telegram_webhook_secret" }
    status_token            = { parameter = "status-token", setting = "remote.status_token" }
  }
  remote_given = {
    telegram_bot_token      = nonsensitive(var.remote_secrets.telegram_bot_token != null)
    telegram_webhook_secret = nonsensitive(var.remote_secrets.telegram_webhook_secret != null)
    status_token            = nonsensitive(var.remote_secrets.status_token != null)
  }
  remote_secrets = local.remote_on ? { for name, s in local.remote_secret_specs : name => merge(s, { path = "/${var.name_prefix}/${s.parameter}" }) if local.remote_given[name] } : {}
  # Alarms: at most 10 are free (standard resolution). The heartbeat, and one per dead-letter queue.
  remote_dlq_alarms = local.remote_on && var.remote_control.dead_letters ? local.dead_letters : toset([])
}

resource "aws_ssm_parameter" "remote" {
  #checkov:skip=CKV_AWS_337:A customer managed KMS key costs 1 USD a month; the AWS managed key aws/ssm is free.
  for_each = local.remote_secrets

  name  = each.value.path
  type  = "SecureString"
  value = var.remote_secrets[each.key]
  tags  = var.tags
}

resource "aws_cloudwatch_log_group" "telegram_webhook" {
  #checkov:skip=CKV_AWS_158:A customer managed KMS key costs 1 USD a month; CloudWatch encrypts log data at rest by default.
  #checkov:skip=CKV_AWS_338:Logs are kept for deploy.log_retention_days (14 by default), not a year: the free tier stores 5 GB.
  count = local.remote_on ? 1 : 0

  name              = "/aws/lambda/${local.remote_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_iam_role" "telegram_webhook" {
  count = local.remote_on ? 1 : 0

  name               = local.remote_name
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

# Its own logs, the state table (the status, each update's claim, each notification's claim), invoking
# itself (a slow command answered after), and reading its own secrets (and the Cosmos DB key, for the
# history), nothing else.
data "aws_iam_policy_document" "telegram_webhook" {
  count = local.remote_on ? 1 : 0

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.telegram_webhook[0].arn}:*"]
  }
  statement {
    sid       = "Tables"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.this["state"].arn]
  }
  statement {
    sid       = "AnswerSlowCommandsLater"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${local.remote_name}"]
  }
  dynamic "statement" {
    for_each = length(local.remote_secrets) + length([for s in local.secrets : s if s.setting == "azure.cosmos_key"]) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["ssm:GetParameter"]
      resources = [for path in concat([for s in local.remote_secrets : s.path], [for s in local.secrets : s.path if s.setting == "azure.cosmos_key"]) : "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${path}"]
    }
  }
}

resource "aws_iam_role_policy" "telegram_webhook" {
  count = local.remote_on ? 1 : 0

  name   = local.remote_name
  role   = aws_iam_role.telegram_webhook[0].id
  policy = data.aws_iam_policy_document.telegram_webhook[0].json
}

resource "aws_lambda_function" "telegram_webhook" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is taken from an account's 10-execution minimum on new accounts and fails there.
  #checkov:skip=CKV_AWS_116:A Function URL answers synchronously; a deferred command's self-invocation is retried by Lambda and logged.
  #checkov:skip=CKV_AWS_117:A VPC would need a NAT gateway to reach Telegram, which is billed by the hour.
  #checkov:skip=CKV_AWS_173:Environment variables hold no secret (SECRET_SETTINGS names SSM parameters); a customer managed key costs 1 USD a month.
  #checkov:skip=CKV_AWS_50:X-Ray's free tier is not needed for a function called a few hundred times a day.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a pipeline to sign; the zips are built and deployed from the same trusted checkout.
  count = local.remote_on ? 1 : 0

  function_name    = local.remote_name
  description      = "Coinswarm telegram_webhook (Telegram commands, the status page and API, alarms)"
  role             = aws_iam_role.telegram_webhook[0].arn
  runtime          = var.runtime
  architectures    = ["arm64"]
  handler          = "functions.telegram_webhook.aws.handler"
  filename         = "${var.package_dir}/telegram_webhook.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/telegram_webhook.zip")
  memory_size      = var.memory_mb
  timeout          = var.timeout_s

  environment {
    variables = merge(local.base_environment, {
      COINSWARM_AWS__REGION = data.aws_region.current.name
      }, length(local.remote_secrets) + length([for s in local.secrets : s if s.setting == "azure.cosmos_key"]) == 0 ? {} : {
      SECRET_SETTINGS = jsonencode(merge(
        { for name, s in local.remote_secrets : s.setting => s.path },
        { for name, s in local.secrets : s.setting => s.path if s.setting == "azure.cosmos_key" },
      ))
    })
  }

  depends_on = [aws_cloudwatch_log_group.telegram_webhook, aws_iam_role_policy.telegram_webhook]
  tags       = var.tags
}

resource "aws_lambda_function_url" "telegram_webhook" {
  #checkov:skip=CKV_AWS_258:Telegram's updates carry the webhook's secret token and /status a bearer token, both checked in constant time; the page holds no secret.
  count = local.remote_on ? 1 : 0

  function_name      = aws_lambda_function.telegram_webhook[0].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "telegram_webhook_url" {
  #checkov:skip=CKV_AWS_301:Public on purpose: Telegram must reach it; every update is checked against the secret token.
  count = local.remote_on ? 1 : 0

  statement_id           = "FunctionUrlTelegramAndStatus"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.telegram_webhook[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# The alarms' topic: each alarm's change into ALARM invokes telegram_webhook, which tells the owner.
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:A customer managed KMS key costs 1 USD a month; the messages are alarm names and states.
  count = local.remote_on ? 1 : 0

  name = "${var.name_prefix}-alarms"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "alarms" {
  count = local.remote_on ? 1 : 0

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.telegram_webhook[0].arn
}

resource "aws_lambda_permission" "alarms" {
  count = local.remote_on ? 1 : 0

  statement_id  = "AlarmsTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.telegram_webhook[0].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.alarms[0].arn
}

# The heartbeat: the Cycles metric of the metric lines (coinswarm.notify.metrics) summed per cycle period;
# three periods with no cycle (no datapoint: missing data breaches) -> ALARM.
resource "aws_cloudwatch_metric_alarm" "heartbeat" {
  count = local.remote_on && contains(keys(local.functions), "tick_ingest") ? 1 : 0

  alarm_name          = "${var.name_prefix}-heartbeat"
  alarm_description   = "No Coinswarm cycle ran for ${var.remote_control.late_periods} periods"
  namespace           = "Coinswarm"
  metric_name         = "Cycles"
  statistic           = "Sum"
  period              = 60 * var.cycle_minutes
  evaluation_periods  = var.remote_control.late_periods
  threshold           = 0.5
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms[0].arn]
  tags                = var.tags
}

# A message in a dead-letter queue: it failed every retry.
resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  for_each = local.remote_dlq_alarms

  alarm_name          = "${var.name_prefix}-${each.key}-dead-letter"
  alarm_description   = "A Coinswarm ${each.key} message landed in its dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms[0].arn]
  tags                = var.tags
}

output "telegram_webhook_url" {
  description = "The telegram_webhook Function URL (remote.status_url; `coinswarm telegram setup` registers <it>/telegram), or null."
  value       = try(aws_lambda_function_url.telegram_webhook[0].function_url, null)
}
