"""What people look at runs with, all reading the run store and never writing it: the live Textual dashboard
(`halo watch`, `halo train grpo --tui`), the Textual replay (`halo replay`) and the self-contained HTML report
(`halo replay --html`). One widget per module; the apps compose them and do the querying off the UI thread.
"""
