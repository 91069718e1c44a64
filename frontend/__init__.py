"""Browser pages: template views over the same selectors and services as the API."""
