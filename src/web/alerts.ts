/**
 * The alerts panel: latest first, deduplicated by the alert's stable id, fed by the REST
 * history and then by live `alert` frames.
 */
import type { Alert, AlertRule } from "../lib/types.ts";

const RULE_LABELS: Record<AlertRule, string> = {
  whale: "Whale",
  price_move: "Move",
  zscore: "Z-score",
  volume_spike: "Volume",
  gap: "Gap",
};

/** Most alerts kept on the page. */
const MAX = 200;

/** What the page does with the panel. */
export interface AlertsPanel {
  /** Adds alerts (any order, duplicates ignored) and redraws. */
  add(alerts: Iterable<Alert>): void;
  /** Empties the panel, e.g. when the symbol changes. */
  clear(): void;
}

/** `2024-08-09 00:03:12` in UTC, like the chart's axis. */
function utc(ts: number): string {
  return new Date(ts).toISOString().slice(0, 19).replace("T", " ");
}

function item(alert: Alert): HTMLLIElement {
  const li = document.createElement("li");
  li.className = `alert rule-${alert.rule}`;
  li.dataset.id = alert.id;
  const head = document.createElement("div");
  head.className = "alert-head";
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = RULE_LABELS[alert.rule] ?? alert.rule;
  const where = document.createElement("span");
  where.className = "alert-where";
  where.textContent = alert.interval ? `${alert.symbol} · ${alert.interval}` : alert.symbol;
  const time = document.createElement("time");
  time.dateTime = new Date(alert.ts).toISOString();
  time.textContent = utc(alert.ts);
  head.append(badge, where, time);
  const message = document.createElement("p");
  message.textContent = alert.message;
  li.append(head, message);
  return li;
}

/** Renders into `list`; `count` shows how many are listed. */
export function createAlerts(list: HTMLElement, count: HTMLElement): AlertsPanel {
  const byId = new Map<string, Alert>();

  const render = () => {
    const sorted = [...byId.values()].sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1));
    for (const dropped of sorted.splice(MAX)) byId.delete(dropped.id);
    list.replaceChildren(...sorted.map(item));
    count.textContent = String(sorted.length);
    list.dataset.count = String(sorted.length);
  };

  return {
    add(alerts) {
      let changed = false;
      for (const alert of alerts) {
        if (byId.has(alert.id)) continue;
        byId.set(alert.id, alert);
        changed = true;
      }
      if (changed) render();
    },
    clear() {
      byId.clear();
      render();
    },
  };
}
