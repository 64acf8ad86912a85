"""The search tree of a `train mcts` episode in `halo replay` (key `s`): every node with its action, visits, Q, own
value, critique and how it ended, the best path's nodes in bold; Escape goes back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, Tree
from textual.widgets.tree import TreeNode

from halo_cli.core.store import RunStore
from halo_cli.core.store.trees import SearchNode, SearchTree, tree_nodes


def node_label(n: SearchNode) -> str:
    """One line per node: what was clicked, how often the search came through, its Q and value, how it ended."""
    if n.action is None:
        what = "root"
    else:
        args = n.action.get("arguments", {})
        what = f"{args.get('action', n.action.get('kind', '?'))} {args.get('coordinate', args.get('text', ''))}"
    q = "-" if n.q is None else f"{n.q:.3f}"
    value = "-" if n.value is None else f"{n.value:.3f}"
    end = " SUCCESS" if n.success else " ended" if n.terminal else ""
    critique = f"  critique {n.critique_score:.2f} ({n.critique_how})" if n.critique_score is not None else ""
    error = f"  error: {n.error}" if n.error else ""
    return f"{what}  n={n.visits} Q={q} v={value}{end}{critique}{error}"


class SearchTreeView(Tree[int]):
    """The nodes of one stored search tree, children in the order they were proposed; the data is the node index."""

    def __init__(self, tree: SearchTree, nodes: list[SearchNode], **kwargs: object) -> None:
        super().__init__(f"{tree.task_id} seed {tree.seed}: {tree.nodes} nodes, {tree.simulations} simulations",
                         data=-1, **kwargs)  # type: ignore[arg-type]
        self.tree_row = tree
        self.nodes = nodes

    def on_mount(self) -> None:
        children: dict[int | None, list[SearchNode]] = {}
        for n in self.nodes:
            children.setdefault(n.parent_index, []).append(n)

        def add(parent: TreeNode[int], n: SearchNode) -> None:
            kids = children.get(n.index, [])
            label = node_label(n)
            if kids:
                branch = parent.add(label, data=n.index, expand=True)
                for k in kids:
                    add(branch, k)
            else:
                parent.add_leaf(label, data=n.index)

        for root in children.get(None, []):
            add(self.root, root)
        self.root.expand()


class SearchTreeScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "back"), Binding("q", "app.quit", "quit")]

    def __init__(self, store: RunStore, tree: SearchTree) -> None:
        super().__init__()
        self.store = store
        self.tree_row = tree

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        t = self.tree_row
        yield Static(f"search tree of episode {t.episode_id} (iteration {t.iteration}): "
                     f"{'found a success' if t.success else 'no success found'}; best first-step Q "
                     f"{'-' if t.best_q is None else f'{t.best_q:.3f}'}", markup=False)
        yield SearchTreeView(t, tree_nodes(self.store, t.id))
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"halo replay · search tree {self.tree_row.id}"
        self.query_one(SearchTreeView).focus()


def episode_tree(store: RunStore, episode_id: int) -> SearchTree | None:
    """The search tree whose best path is this episode, if it has one (episodes of `train mcts`)."""
    from halo_cli.core.store.records import from_row

    rows = store.query("select * from search_trees where episode_id = ? order by id desc limit 1", [episode_id])
    return from_row(SearchTree, rows[0]) if rows else None
