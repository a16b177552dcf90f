terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
    google = {
      source  = "hashicorp/google"
      version = ">= 6.11, < 7.0" # 6.11: google_workflows_workflow.deletion_protection
    }
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0, < 5.0"
    }
  }
}

provider "aws" {
  region = var.aws_region
}

provider "google" {
  project = var.gcp_project
  region  = var.gcp_region
  # With nothing placed on Google Cloud no google resource is made, but Terraform still configures the
  # provider, which looks for Google credentials and fails without them: a token that is never used
  # stands in, so that an all-AWS layout needs no Google account.
  access_token = local.on_gcp ? null : "unused-nothing-is-placed-on-google-cloud"
}

provider "azurerm" {
  features {}
  subscription_id = var.azure_subscription_id
}
