"""Where tickets live: ticket files and their atomic writes, the front-matter index, the journal that
makes a change all-or-nothing, locks, and the git plumbing. Imports only erflow.core."""
