"""One module per ``modelbuilder`` sub-command."""
