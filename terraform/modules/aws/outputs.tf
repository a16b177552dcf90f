output "function_names" {
  description = "The Lambda function of each function placed on AWS."
  value       = { for name, f in aws_lambda_function.this : name => f.function_name }
}

output "manual_trade_url" {
  description = "The manual trade endpoint (a Lambda Function URL; every request must be signed), or null when manual_trade is not on AWS."
  value       = try(aws_lambda_function_url.public["manual_trade"].function_url, null)
}

output "push_receiver_url" {
  description = "The push receiver's Function URL (every push must be signed with the push secret): the other cloud's push.urls for the topics consumed here, or null when no hop crosses clouds."
  value       = try(aws_lambda_function_url.public["push_receiver"].function_url, null)
}

output "received_topics" {
  description = "The topics the push receiver here takes from the other cloud."
  value       = local.received
}

output "state_machine_arn" {
  description = "The cycle's Step Functions state machine (chain workflow), or null."
  value       = one(aws_sfn_state_machine.cycle[*].arn)
}

output "secret_parameters" {
  description = "The SSM SecureString parameters this deployment created, by secret (the names only)."
  value       = { for name, s in local.secrets : name => s.path }
}

output "table_names" {
  description = "The DynamoDB tables, by role (state, idempotency)."
  value       = { for name, t in aws_dynamodb_table.this : name => t.name }
}

output "queue_urls" {
  description = "The stage queues, by topic."
  value       = { for topic, q in aws_sqs_queue.stage : topic => q.id }
}

output "dead_letter_queue_urls" {
  description = "The dead-letter queues, by topic: where a message lands after 5 failed receives."
  value       = { for topic, q in aws_sqs_queue.dead_letter : topic => q.id }
}

output "log_groups" {
  description = "The CloudWatch log group of each function."
  value       = { for name, g in aws_cloudwatch_log_group.function : name => g.name }
}

output "provisioned_capacity" {
  description = "The DynamoDB capacity this deployment provisions in total (the free tier: 25 RCU and 25 WCU per account)."
  value = {
    read  = sum([for t in aws_dynamodb_table.this : t.read_capacity])
    write = sum([for t in aws_dynamodb_table.this : t.write_capacity])
  }
}
