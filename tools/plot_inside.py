"""Inside one training sample (record.events): the message raster and the per-tick state.

Used by plot_trace.py --inside SAMPLE. Top panel: every message delivered to a recorded
population, as a dot at (tick within the sample, the population's band); within a band
the sender's neuron index sets the height, so a layer receiving a whole layer's output
shows a vertical bar. Colour says what the message carries (activity up, error down, the
data source's clamp and target, the softmax's lateral messages); a dropped message is a
black cross. Bands are stacked in the model's population order, the input at the bottom,
so the forward wave climbs and the error wave descends. Below: one panel per recorded
population with state and element (x, eps; s_plus, s_minus, ...), each on its own scale,
the chosen neurons' values per tick, one colour per neuron.
"""
import numpy as np
from matplotlib.ticker import MaxNLocator

KIND_COLOURS = {"activity": "tab:blue", "error": "tab:red", "clamp": "tab:green", "target": "tab:olive",
                "lateral": "tab:purple"}


class InsideError(Exception):
    pass


def read_inside(trace, sample):
    """{population: Events of `sample`} in the model's population order."""
    if not trace.event_names:
        raise InsideError(f"{trace.path}: no recording inside samples (add record {{ events {{ population: ... "
                          f"samples: [...] }} }} to the model)")
    events = {p: trace.events(p) for p in trace.event_names}
    recorded = sorted(set().union(*(e.samples for e in events.values())))
    if sample not in recorded:
        raise InsideError(f"{trace.path}: sample {sample} was not recorded; recorded: "
                          f"{', '.join(map(str, recorded)) or 'none'}")
    order = next(iter(events.values())).source_names
    pops = sorted(events, key=lambda p: order.index(p) if p in order else len(order))
    return {p: events[p].of(sample) for p in pops}


def draw_raster(ax, inside, sample):
    interval = next(iter(inside.values())).interval
    start = sample * interval
    seen = set()
    for band, (pop, ev) in enumerate(inside.items()):
        m = ev.messages
        ax.axhspan(band, band + 1, color="0.95" if band % 2 else "1.0", zorder=0)
        kinds = np.asarray(m["kind"], dtype=int)
        sources = np.asarray(m["source"], dtype=int)
        for k, s in sorted(set(zip(kinds.tolist(), sources.tolist()))):
            sel = (kinds == k) & (sources == s)
            neuron = np.asarray(m["neuron"][sel], dtype=float)
            y = band + 0.05 + 0.9 * (neuron + 0.5) / (neuron.max() + 1)
            x = np.asarray(m["tick"][sel], dtype=float) - start
            name = ev.kind_names[k]
            label = name if name not in seen else None
            seen.add(name)
            ax.scatter(x, y, s=10 if len(x) > 50 else 5, marker="|" if len(x) > 50 else "o", color=KIND_COLOURS.get(name, "0.3"),
                       label=label, zorder=2, linewidths=1.2)
            lost = np.asarray(m["dropped"][sel], dtype=bool)
            if lost.any():
                ax.scatter(x[lost], y[lost], s=18, marker="x", color="black", zorder=3,
                           label="dropped" if "dropped" not in seen else None)
                seen.add("dropped")
    ax.set_yticks(np.arange(len(inside)) + 0.5, list(inside))
    ax.set_ylim(0, len(inside))
    ax.set_xlim(-0.5, interval - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # ticks are whole
    ax.set_ylabel("delivered to")
    ax.set_title(f"messages inside sample {sample} (ticks {start}..{start + interval - 1}; "
                 "height in a band = sender's neuron)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, markerscale=2)
    ax.grid(axis="x", alpha=0.3)


def draw_states(axes, pop, ev, sample, max_neurons):
    """One panel per element (own scale: an error is often far smaller than the value)."""
    st = ev.state
    ticks = np.asarray(st["tick"], dtype=float) - sample * ev.interval
    nodes = st["node_ids"][:max_neurons]
    for e, (ax, element) in enumerate(zip(axes, st["elements"])):
        for j, node in enumerate(nodes):
            ax.step(ticks, st["data"][:, j, e], where="post", color=f"C{j % 10}", linewidth=1.1,
                    label=f"neuron {node}")
        ax.set_title(f"{pop}: {element}", fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=6, ncol=2)


def plot_inside(plt, trace, sample, output, title, dpi, max_neurons=6):
    inside = read_inside(trace, sample)
    # Output first, as in the raster (top to bottom).
    with_state = [(p, ev) for p, ev in reversed(list(inside.items()))
                  if ev.state is not None and len(ev.state["tick"])]
    cols = max([len(ev.state["elements"]) for _, ev in with_state] + [1])
    heights = [max(2.5, 0.8 * len(inside))] + [1.7] * len(with_state)
    fig = plt.figure(figsize=(5 + 3.5 * cols, sum(heights) + 1.0))
    grid = fig.add_gridspec(len(heights), cols, height_ratios=heights)
    raster = fig.add_subplot(grid[0, :])
    draw_raster(raster, inside, sample)
    for r, (pop, ev) in enumerate(with_state, start=1):
        axes = [fig.add_subplot(grid[r, c], sharex=raster) for c in range(len(ev.state["elements"]))]
        draw_states(axes, pop, ev, sample, max_neurons)
        if r == len(with_state):
            for ax in axes:
                ax.set_xlabel("tick within the sample")
    if not with_state:
        raster.set_xlabel("tick within the sample")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    plt.close(fig)
