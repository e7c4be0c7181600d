"""What a user does with runs, above the simulation: experiments over seeds and parameter grids,
fork ensembles, and comparisons of runs with their uncertainty."""
