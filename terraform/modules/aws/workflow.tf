# Chain "workflow": one Step Functions (standard) execution per cycle, from workflows/aws/cycle.asl.json
# with the functions' ARNs and the dead-letter queue filled in. Standard workflows get 4,000 free state
# transitions a month and a cycle makes about 6: for low-frequency or manual cycles, not every minute
# (`coinswarm budget` says so for a configuration).

resource "aws_sfn_state_machine" "cycle" {
  #checkov:skip=CKV_AWS_284:X-Ray's free tier is 100,000 traces a month; each stage's own log lines carry the cycle id.
  #checkov:skip=CKV_AWS_285:Step Functions keeps each execution's history (every state's input, output and error) 90 days at no cost, and a failed cycle is dead-lettered with its error; logging to CloudWatch needs log-delivery grants on every resource (logs:CreateLogDelivery and friends allow no narrower one).
  count = local.workflow ? 1 : 0

  name     = "${var.name_prefix}-cycle"
  type     = "STANDARD"
  role_arn = aws_iam_role.workflow[0].arn
  definition = templatefile(coalesce(var.workflow_definition, "${path.module}/../../../workflows/aws/cycle.asl.json"), merge(
    { for f in local.cycle_functions : "${f}_arn" => try(aws_lambda_function.this[f].arn, "not-on-aws") }, # the precondition refuses that
    { dead_letter_queue_url = aws_sqs_queue.dead_letter["cycle"].id },
  ))

  lifecycle {
    precondition {
      condition     = alltrue([for f in local.cycle_functions : contains(keys(local.functions), f)])
      error_message = "chain = \"workflow\" on AWS runs the whole cycle in one execution: place tick_ingest, agent_scoring, committee_vote, order_placement and trade_logging all on aws."
    }
  }

  tags = var.tags
}

data "aws_iam_policy_document" "workflow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "workflow" {
  count = local.workflow ? 1 : 0

  name               = "${var.name_prefix}-cycle-workflow"
  assume_role_policy = data.aws_iam_policy_document.workflow_assume.json
  tags               = var.tags
}

# The state machine may invoke the five stage functions and send to its dead-letter queue, nothing else.
resource "aws_iam_role_policy" "workflow" {
  count = local.workflow ? 1 : 0

  name = "${var.name_prefix}-cycle-workflow"
  role = aws_iam_role.workflow[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeStages"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [for f in local.cycle_functions : aws_lambda_function.this[f].arn if contains(keys(local.functions), f)]
      },
      {
        Sid      = "DeadLetter"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.dead_letter["cycle"].arn
      },
    ]
  })
}
