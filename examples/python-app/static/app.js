document.addEventListener("DOMContentLoaded", () => {
  document.querySelector("h1").title = "served by Roost";
});
