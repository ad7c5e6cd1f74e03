"""Importing a year's inputs: the documented workbook format, readers, validation, writing."""
