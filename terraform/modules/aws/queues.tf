# The dead-letter queues of every chain, and under chain "queues" the stage queues
# (coinswarm.adapters.sqs_bus.QUEUES) and their event source mappings. The free tier is 1M SQS requests a
# month, and an event source mapping polls even when idle (about 4 requests a minute per queue, at least
# 170,000 a month each): chain "invoke" has none.

resource "aws_sqs_queue" "dead_letter" {
  for_each = local.dead_letters

  name                      = "${var.name_prefix}-${each.key}-dlq"
  message_retention_seconds = local.queue_spec.dlq_retention_s
  sqs_managed_sse_enabled   = true # encrypted at rest at no cost
  tags                      = var.tags
}

resource "aws_sqs_queue" "stage" {
  for_each = local.queues

  name                       = "${var.name_prefix}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout_s
  message_retention_seconds  = each.value.retention_s
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
  tags = var.tags
}

# Lambda polls each queue. ReportBatchItemFailures makes Lambda honour the batchItemFailures the
# functions return: only the failed records come back (and dead-letter after 5 receives), not the batch.
resource "aws_lambda_event_source_mapping" "stage" {
  for_each = local.queues

  event_source_arn        = aws_sqs_queue.stage[each.key].arn
  function_name           = aws_lambda_function.this[each.value.consumer].arn
  batch_size              = each.value.batch_size
  function_response_types = ["ReportBatchItemFailures"]
}
