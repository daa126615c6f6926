"""Domain logic: plain functions over the DB session; they raise domain errors and never commit."""
