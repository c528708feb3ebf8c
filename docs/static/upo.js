// Figures open at full size; a table wider than the page says that it scrolls sideways.
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll("article img")) {
    if (img.closest("a") || img.closest(".sphx-glr-thumbcontainer")) continue;
    const link = document.createElement("a");
    link.href = img.src;
    link.title = "open the full-size image";
    img.replaceWith(link);
    link.append(img);
  }
  const hint = () => {
    for (const table of document.querySelectorAll("article table")) {
      let box = table.parentElement;
      if (!box.classList.contains("table-wrapper")) {
        box = document.createElement("div");
        box.className = "table-wrapper";
        table.replaceWith(box);
        box.append(table);
      }
      const wide = box.scrollWidth > box.clientWidth + 1;
      let note = box.previousElementSibling;
      if (!(note && note.classList.contains("scroll-hint"))) {
        note = document.createElement("p");
        note.className = "scroll-hint";
        note.textContent = "This table is wider than the page: scroll it sideways \u2192";
        box.before(note);
      }
      note.hidden = !wide;
    }
  };
  hint();
  window.addEventListener("resize", hint);
});

// The theme's phone menu and contents buttons are labels of hidden checkboxes: make them
// reachable and usable from the keyboard (Tab, then Enter or Space).
document.addEventListener("DOMContentLoaded", () => {
  const names = {__navigation: "Open or close the site menu", __toc: "Open or close the contents"};
  for (const label of document.querySelectorAll("label.nav-overlay-icon, label.toc-overlay-icon")) {
    label.tabIndex = 0;
    label.setAttribute("role", "button");
    label.setAttribute("aria-label", names[label.htmlFor]);
    label.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        label.click();
      }
    });
  }
});
