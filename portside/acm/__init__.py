"""AWS Certificate Manager, as far as HTTPS listeners need it: imported certificates."""
