"""What a user does with runs, above the simulation: experiments over seeds and parameter grids,
fork ensembles, comparisons of runs with their uncertainty, interviews of a run's agents after the
fact, and estimates of what a run will cost."""
