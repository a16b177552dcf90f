output "function_names" {
  description = "The Lambda function of each function placed on AWS."
  value       = { for name, f in aws_lambda_function.this : name => f.function_name }
}

output "manual_trade_url" {
  description = "The manual trade endpoint (a Lambda Function URL; every request must be signed), or null when manual_trade is not on AWS."
  value       = one(aws_lambda_function_url.manual_trade[*].function_url)
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
