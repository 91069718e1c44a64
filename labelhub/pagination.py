"""Cursor pagination for list endpoints: stable under inserts, O(page) per request via an index."""

from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
