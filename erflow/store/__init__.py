"""Where tickets live: the only room that touches ticket files or runs git. Imports only erflow.core.

Its modules, each importing only those before it: faults (failpoints), files (atomic writes),
ticketfile (the ticket file format), git (the plumbing), commits (erflow's commit messages, read
back), moves (every state move, kept between runs), journal (a change made all-or-nothing), lock
(the store lock), index (the front-matter cache), tickets (``Store``: the store on disk).
"""
