"""Where SQLite's SQL and PostgreSQL's differ: the fragments the area modules ask their
store's dialect for (`self.sql`), one class a dialect. A statement both take is written
once in its module; only the part that differs comes from here. (The mechanics, such as
placeholders, are postgres.translate's.)

SQLite types values as they come; PostgreSQL wants them typed. Where a value comes out of
JSON (how imports hand a batch of thousands of rows to one statement), the fragment is
told its kind: "text" or "int"."""


class SQLite:
    name = "sqlite"

    @staticmethod
    def json_list(param: str, alias: str = "j", kind: str = "text") -> str:
        """A table of the elements of a JSON array of scalars given as a parameter: columns
        `value` and `key` (their order)."""
        return f"json_each({param}) {alias}"

    @staticmethod
    def json_rows(param: str, alias: str = "k") -> str:
        """A table of the elements of a JSON array of arrays: columns `value` (a row, for
        item()) and `key` (their order)."""
        return f"json_each({param}) {alias}"

    @staticmethod
    def item(row: str, index: int, kind: str = "text") -> str:
        """The index-th value of a row of json_rows."""
        return f"json_extract({row}, '$[{index}]')"

    @staticmethod
    def rows_as_json(fields: str) -> str:
        """Aggregate: the rows' fields as one JSON array of arrays, as text ('[]' for none)."""
        return f"json_group_array(json_array({fields}))"

    @staticmethod
    def numbered(prefix: str, number: str) -> str:
        """A document number: the prefix, then the number in six digits at least."""
        return f"printf('{prefix}%06d', {number})"

    @staticmethod
    def position_in(order: str) -> str:
        """The value of a new temp table's INTEGER PRIMARY KEY, in an INSERT ... SELECT ...
        ORDER BY `order`, that numbers the rows 1, 2, ... in that order. SQLite's: NULL, the
        next rowid as each row is inserted, in the SELECT's order (a window function's sort
        costs twice as much: 0.09 s for 100,000 invoices)."""
        return "NULL"

    @staticmethod
    def add_days(day: str, days: str) -> str:
        """An ISO date's text `days` days later, as ISO text; NULL past 9999-12-31."""
        return f"date({day}, '+' || ({days}) || ' days')"

    @staticmethod
    def nocase(column: str, param: str) -> str:
        """column equals param, ASCII case aside (SQLite's NOCASE)."""
        return f"{column} = {param}"

    @staticmethod
    def json_object(pairs: str) -> str:
        """A JSON object of 'key', value pairs (comma-separated); one may be another's value."""
        return f"json_object({pairs})"

    @staticmethod
    def json_text(json: str) -> str:
        """A JSON value as the text a TEXT column holds."""
        return json

    @staticmethod
    def least(a: str, b: str) -> str:
        """The smaller of two values, neither NULL (SQLite's scalar min)."""
        return f"min({a}, {b})"

    @staticmethod
    def greatest(a: str, b: str) -> str:
        """The greater of two values, neither NULL (SQLite's scalar max)."""
        return f"max({a}, {b})"


class PostgreSQL(SQLite):
    name = "postgresql"

    @staticmethod
    def json_list(param: str, alias: str = "j", kind: str = "text") -> str:
        elements = f"json_array_elements_text(CAST({param} AS json)) WITH ORDINALITY"
        if kind == "int":
            return f"(SELECT CAST(e.v AS BIGINT) AS value, e.n AS key FROM {elements} AS e(v, n)) AS {alias}"
        return f"{elements} AS {alias}(value, key)"

    @staticmethod
    def json_rows(param: str, alias: str = "k") -> str:
        return f"json_array_elements(CAST({param} AS json)) WITH ORDINALITY AS {alias}(value, key)"

    @staticmethod
    def item(row: str, index: int, kind: str = "text") -> str:
        return f"CAST({row} ->> {index} AS BIGINT)" if kind == "int" else f"({row} ->> {index})"

    @staticmethod
    def rows_as_json(fields: str) -> str:
        return f"CAST(coalesce(json_agg(json_build_array({fields})), '[]') AS TEXT)"

    @staticmethod
    def numbered(prefix: str, number: str) -> str:
        text = f"CAST({number} AS TEXT)"
        return f"('{prefix}' || CASE WHEN length({text}) >= 6 THEN {text} ELSE lpad({text}, 6, '0') END)"

    @staticmethod
    def position_in(order: str) -> str:
        return f"row_number() OVER (ORDER BY {order})"

    @staticmethod
    def add_days(day: str, days: str) -> str:
        # NULL past 9999-12-31, as SQLite's date() gives: PostgreSQL's dates go on to year
        # 5874897, whose text no ISO date of invoicer's reads.
        later = f"CAST({day} AS date) + CAST({days} AS integer)"
        return f"(CASE WHEN {later} <= DATE '9999-12-31' THEN to_char({later}, 'YYYY-MM-DD') END)"

    @staticmethod
    def nocase(column: str, param: str) -> str:
        return f"lower({column}) = lower({param})"

    @staticmethod
    def json_object(pairs: str) -> str:
        return f"json_build_object({pairs})"

    @staticmethod
    def json_text(json: str) -> str:
        return f"CAST({json} AS TEXT)"

    @staticmethod
    def least(a: str, b: str) -> str:
        return f"least({a}, {b})"

    @staticmethod
    def greatest(a: str, b: str) -> str:
        return f"greatest({a}, {b})"


SQLITE = SQLite()
POSTGRESQL = PostgreSQL()
