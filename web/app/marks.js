// The EXERCISE mark every view puts on what a drill wrote (`limes exercise run`), so that an
// exercise is never taken for real data.
import { t } from "./i18n.js";
import { el } from "./dom.js";

export function exerciseMark() {
  return el("span", t("incidents.exercise"), "exercise-mark");
}

/// A table cell with `text`, marked when `exercise`; its row gets the exercise line too.
export function markedCell(tr, text, className, exercise) {
  const td = el("td", undefined, className);
  if (exercise) {
    tr.classList.add("exercise");
    td.append(exerciseMark(), " ");
  }
  td.append(text);
  return td;
}
