"""The JSON API (/api/v1, OpenAPI 3.1 through flask-smorest), personal access tokens and webhooks.

The top layer: it calls the same services as the pages and connects to the lower modules'
signals for its webhooks. See docs/api.md.
"""
