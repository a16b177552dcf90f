output "aws" {
  description = "Everything the AWS module created: functions, manual trade URL, tables, queues, log groups, capacity."
  value       = module.aws
}
