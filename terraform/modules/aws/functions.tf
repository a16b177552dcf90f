# One Lambda function per function placed on AWS (and the push receiver when a hop crosses clouds), each
# with its own role, log group and trigger.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:A customer managed KMS key costs 1 USD a month; CloudWatch encrypts log data at rest by default.
  #checkov:skip=CKV_AWS_338:Logs are kept for deploy.log_retention_days (14 by default), not a year: the free tier stores 5 GB.
  for_each = local.functions

  name              = "/aws/lambda/${var.function_names[each.key]}"
  retention_in_days = var.log_retention_days # without it CloudWatch keeps logs forever
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_115:Reserved concurrency is taken from an account's 10-execution minimum on new accounts and fails there; one cycle per closed candle bounds the load (and under queues the batch size).
  #checkov:skip=CKV_AWS_116:No function needs a dead_letter_config: under invoke each asynchronously invoked one has an on-failure destination (its dead-letter queue); under queues the queues dead-letter; under workflow the state machine catches and dead-letters; the schedule retries tick_ingest; the HTTP ones are called synchronously.
  #checkov:skip=CKV_AWS_117:A VPC would need a NAT gateway to reach the exchanges and Cosmos DB, which is billed by the hour.
  #checkov:skip=CKV_AWS_173:Environment variables are encrypted at rest with the AWS managed key and hold no secret (secrets are SSM SecureString parameters read at run time); a customer managed key costs 1 USD a month.
  #checkov:skip=CKV_AWS_50:X-Ray's free tier is 100,000 traces a month; a 1-minute cycle over 3 symbols makes over 500,000 invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and a pipeline to sign; the zips are built and deployed from the same trusted checkout.
  for_each = local.functions

  function_name    = var.function_names[each.key]
  description      = "Coinswarm ${each.key} (${each.value.trigger == "sqs" ? (var.chain == "queues" ? "SQS" : var.chain) : each.value.trigger} trigger)"
  role             = aws_iam_role.function[each.key].arn
  runtime          = var.runtime
  architectures    = ["arm64"] # Graviton: 20 % cheaper per GB-s once past the free tier, same free allowance
  handler          = "functions.${each.key}.aws.handler"
  filename         = "${var.package_dir}/${each.key}.zip"
  source_code_hash = filebase64sha256("${var.package_dir}/${each.key}.zip")
  memory_size      = var.memory_mb
  timeout          = var.timeout_s
  # No provisioned concurrency anywhere: an always-warm instance is billed for its idle time.

  environment {
    variables = merge(local.base_environment, {
      COINSWARM_AWS__REGION = data.aws_region.current.name
      }, length(local.secret_settings[each.key]) == 0 ? {} : {
      # Not a secret: which SSM parameters hold this function's secret settings (functions/secret_settings.py)
      SECRET_SETTINGS = jsonencode(local.secret_settings[each.key])
      }, {
      for topic in each.value.publishes : "COINSWARM_QUEUE_URL_${upper(topic)}" => aws_sqs_queue.stage[topic].id
      if contains(keys(local.queues), topic)
    })
  }

  lifecycle {
    precondition {
      condition     = !local.cross_cloud || (local.given.push_secret && length(setsubtract(local.pushed, keys(var.push_urls))) == 0)
      error_message = "deploy.placement splits the stages across clouds: give the shared push secret (TF_VAR_push_secret) and the other cloud's push receiver URL for each of ${jsonencode(local.pushed)} (push_urls)."
    }
  }

  # Logs go to /aws/lambda/<function name>, the log group above (created first, with its retention).
  depends_on = [aws_cloudwatch_log_group.function]

  tags = var.tags
}

# Chain "invoke": each consumer is invoked asynchronously by its producer (Lambda's own event queue: no
# polling, free). A failed invocation is retried twice, then the event and the error go to the topic's
# dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "stage" {
  for_each = local.invoked

  function_name          = aws_lambda_function.this[each.value].function_name
  maximum_retry_attempts = local.invoke_retries

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter[each.key].arn
    }
  }

  # The function's role sends to the dead-letter queue: the grant comes first.
  depends_on = [aws_iam_role_policy.function]
}

# The cycle's start: an EventBridge Scheduler schedule (14M free invocations a month; a 1-minute cycle is
# 44,640) that invokes tick_ingest, or under chain "workflow" starts the state machine.
resource "aws_scheduler_schedule" "tick" {
  #checkov:skip=CKV_AWS_297:A customer managed KMS key costs 1 USD a month; the schedule holds no secret.
  count = contains(keys(local.functions), "tick_ingest") ? 1 : 0

  name                = "${var.name_prefix}-tick"
  description         = "Starts a Coinswarm cycle each time a candle closes"
  schedule_expression = local.rate

  flexible_time_window {
    mode = "OFF" # on the minute: a cycle is for the candle that just closed
  }

  target {
    arn      = local.workflow ? aws_sfn_state_machine.cycle[0].arn : aws_lambda_function.this["tick_ingest"].arn
    role_arn = aws_iam_role.scheduler[0].arn
    retry_policy {
      maximum_event_age_in_seconds = 60 * var.cycle_minutes # past the next cycle, a retry is redundant
      maximum_retry_attempts       = 2
    }
  }
}

# manual_trade and the push receiver: a Function URL each. Auth NONE on purpose: every request is
# HMAC-signed (the manual trade secret, the push secret; coinswarm.http.signing) and refused unsigned,
# stale or replayed.
resource "aws_lambda_function_url" "public" {
  #checkov:skip=CKV_AWS_258:The endpoint authenticates each request itself (HMAC over the body and a timestamp, replays refused); IAM auth would need SigV4 clients.
  for_each = { for name, f in local.functions : name => f if f.trigger == "http" }

  function_name      = aws_lambda_function.this[each.key].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "public_url" {
  #checkov:skip=CKV_AWS_301:Public on purpose: the endpoint refuses every request not HMAC-signed with its secret.
  for_each = aws_lambda_function_url.public

  statement_id           = "FunctionUrlPublicSignedRequests"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = each.value.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

moved {
  from = aws_lambda_function_url.manual_trade[0]
  to   = aws_lambda_function_url.public["manual_trade"]
}

moved {
  from = aws_lambda_permission.manual_trade_url[0]
  to   = aws_lambda_permission.public_url["manual_trade"]
}
