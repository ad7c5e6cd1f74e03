"""The demo county (莒县, Ju County): a seeded, realistic workbook and the `bihuan demo` steps."""
