terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.11, < 7.0" # 6.11: google_workflows_workflow.deletion_protection
    }
  }
}
