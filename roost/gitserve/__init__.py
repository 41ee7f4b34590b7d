"""Deploys by git: `git push` over smart HTTP (git's own `git http-backend`), and forge
webhooks (GitHub, GitLab, Gitea) that fetch a pushed commit and deploy it.

Both feed the same deploy pipeline as `roost deploy` (:func:`roost.orchestration.pipeline.
deploy_source`). Repositories live under ``ROOST_HOME/git`` (0700), one bare repository per
app, named by the app's id so that a new app of a destroyed app's name starts empty; the
only hook git runs is Roost's own pre-receive hook (``core.hooksPath`` given in the
environment), which runs the deploy in `roost up` and relays its output as ``remote:`` lines.
"""
