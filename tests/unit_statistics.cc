// placeholder, filled in by the unit_statistics work
