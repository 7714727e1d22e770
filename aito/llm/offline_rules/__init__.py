"""The offline model's rules: what it answers, by what is on the table.

:class:`aito.llm.offline.OfflineModel` runs them in this order on the structured
context a prompt was rendered from; each module holds the rules of one job:

* `reporting`: answer every status_request in the inbox with a status_response built
  from the verified facts (cited by id), and alert the CEO about blocked tasks; the
  CEO runs the status-query loop: asks every C-level for status with a deadline,
  aggregates the answers it got, lists who is missing, creates a task for each
  problem reported, and schedules the next round;
* `voting`: give round-2 analysis and votes by role: the CEO backs proposals of
  agents that report to it up to $5,000; the DAO vetoes treasury spend above $500
  that has not gone to the community; the CFO vetoes spend above $750; the COO
  approves up to $5,000; the CTO and CCO abstain outside technology and compliance
  (they approve inside); a minor decision nobody objects to is left to lazy consensus;
* `working`: tasks: start a pending one when fewer than two are in progress, hand it
  to a worker when the agent has a fitting worker kind, otherwise finish it with a
  result (workers finish theirs and open a PR with the draft inside their paths);
  an approved decision of the agent's becomes work for its writer;
* `proposing`: on its first run a C-level agent makes one proposal its profile
  suggests (the CMO a major campaign and a content task for its writer, the CTO a
  minor engineering policy, the COO an initiative), remembered in its state so it is
  not repeated;
* every answer ends with a summary (`situation`: what the rules share, and the notes
  the summary is made of).
"""
