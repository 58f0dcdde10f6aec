# deploy.sh - pki distribute and pki consolidate: certificates to their targets.
