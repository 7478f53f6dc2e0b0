from rest_framework.pagination import CursorPagination


class KehuCursorPagination(CursorPagination):
    """Cursor pagination with `results` and `next` (and `previous`); `page_size` up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
