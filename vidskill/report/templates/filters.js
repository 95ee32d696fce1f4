// Label and domain filters: hide the clip cards that do not match, count the rest.
(function () {
  var label = document.getElementById("label-filter");
  var domain = document.getElementById("domain-filter");
  if (!label || !domain) { return; }
  function apply() {
    var cards = document.querySelectorAll("article.clip");
    var shown = 0;
    cards.forEach(function (card) {
      var ok = (!label.value || card.dataset.label === label.value) &&
               (!domain.value || card.dataset.domain === domain.value);
      card.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("shown").textContent = shown + " of " + cards.length + " clips";
  }
  label.addEventListener("change", apply);
  domain.addEventListener("change", apply);
  apply();
})();
