"""URL converters: ids fit a bigint, so an absurd id is a plain 404, never a database error."""


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
