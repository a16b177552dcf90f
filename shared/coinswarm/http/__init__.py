"""The framework-free core of Coinswarm's HTTP endpoints: request signing and the manual trade endpoint.

A cloud entry point (a Lambda Function URL, a GCP HTTP function) turns its event into an
`HttpRequest`, calls a handler, and turns the `HttpResponse` back: a few lines, no logic.
"""
