# One role per function, allowed only what that function does: write its own logs, use the tables,
# receive from the queue it consumes and send to the queues it publishes to (chain "queues"), or invoke the
# function that consumes what it hands on and dead-letter what fails (chain "invoke"), and read its own
# secrets' SSM parameters, no others.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = var.function_names[each.key]
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  # The stores' item operations (coinswarm.adapters.dynamodb_store; powertools' idempotency uses the same).
  statement {
    sid       = "Tables"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [for name, table in aws_dynamodb_table.this : table.arn if name == "state" || each.key == "order_placement" || (each.key == "push_receiver" && contains(local.received, "decisions"))]
  }

  dynamic "statement" {
    for_each = each.value.consumes != null && contains(keys(local.queues), coalesce(each.value.consumes, "-")) ? [each.value.consumes] : []
    content {
      sid       = "ConsumeOwnQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = [aws_sqs_queue.stage[statement.value].arn]
    }
  }

  dynamic "statement" {
    for_each = length(setintersection(each.value.publishes, keys(local.queues))) > 0 ? [1] : []
    content {
      sid       = "PublishNextStage"
      actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
      resources = [for topic in setintersection(each.value.publishes, keys(local.queues)) : aws_sqs_queue.stage[topic].arn]
    }
  }

  dynamic "statement" {
    for_each = length([for topic in each.value.publishes : topic if contains(keys(local.invoked), topic)]) > 0 ? [1] : []
    content {
      sid       = "InvokeNextStage"
      actions   = ["lambda:InvokeFunction"]
      resources = [for topic in each.value.publishes : aws_lambda_function.this[local.invoked[topic]].arn if contains(keys(local.invoked), topic)]
    }
  }

  # Lambda sends a failed asynchronous invocation to the on-failure destination with the function's role.
  dynamic "statement" {
    for_each = contains(values(local.invoked), each.key) ? [1] : []
    content {
      sid       = "DeadLetterOwnFailures"
      actions   = ["sqs:SendMessage"]
      resources = [for topic, consumer in local.invoked : aws_sqs_queue.dead_letter[topic].arn if consumer == each.key]
    }
  }

  dynamic "statement" {
    for_each = length(local.readable[each.key]) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["ssm:GetParameter"]
      resources = [for path in local.readable[each.key] : "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${path}"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = var.function_names[each.key]
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

# EventBridge Scheduler's role: allowed to invoke tick_ingest (or start the cycle's state machine) and nothing else.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = contains(keys(local.functions), "tick_ingest") ? 1 : 0

  name               = "${var.name_prefix}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = contains(keys(local.functions), "tick_ingest") ? 1 : 0

  name = "${var.name_prefix}-start-cycle"
  role = aws_iam_role.scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = local.workflow ? "states:StartExecution" : "lambda:InvokeFunction"
      Resource = local.workflow ? aws_sfn_state_machine.cycle[0].arn : aws_lambda_function.this["tick_ingest"].arn
    }]
  })
}
