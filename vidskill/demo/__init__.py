"""The synthetic demo corpus (`corpus`) and `vidskill demo` (`run`): for tests and the demo.

Nothing in the library imports this package; it imports the library.
"""
