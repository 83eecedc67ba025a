// placeholder, filled in by the unit_sample_files work
