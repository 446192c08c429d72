"""Input data of the Heilongjiang plan (seed 004), one CSV per input table, each row cited."""
