"""Loudspeaker terminals: the reference terminal logic, and a farm that simulates a county's terminals."""
