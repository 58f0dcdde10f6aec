# acme.sh - pki register and the ACME part of the workflows.
