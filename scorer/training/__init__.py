"""Training, evaluation and calibration: the team's corpus, the keyword/VADER baseline,
`hostscore train`, `calibrate` and `evaluate`. Never imported when scoring a call."""
