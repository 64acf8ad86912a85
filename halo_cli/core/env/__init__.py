"""The world the agent acts in: `BrowserEnv` (browser.py) runs episodes (episode.py) in one Chromium, executes
actions (execute.py), confines each page to its task's origins (confine.py) and renders the AX tree (axtree.py);
task sources give it tasks: REAL through agisdk (real/), MiniWoB++ (miniwob.py), behind one interface (tasks.py).
"""
