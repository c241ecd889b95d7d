// The checkboxes that switch the node table's columns on and off.
import { el } from "./api.js";
import { columns } from "./columns.js";

export function columnChooser(container, chosen, onChoose) {
  const boxes = columns.map((column) => {
    const box = el("input", { type: "checkbox", value: column.id, "data-column": column.id });
    box.checked = chosen.includes(column.id);
    return box;
  });
  const changed = () => {
    const ids = boxes.filter((box) => box.checked).map((box) => box.value);
    if (ids.length > 0) onChoose(ids);
  };
  for (const box of boxes) box.addEventListener("change", changed);
  container.replaceChildren(...boxes.map((box, index) => el("label", {}, box, columns[index].title)));
}
