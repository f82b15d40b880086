"""The inventory page's phrases in English and French (app/web/phrases.py)."""

from __future__ import annotations

from app.web.phrases import Phrasebook

TEXT = Phrasebook("inventory", {
    "en": {
        "title": "Inventory",
        "subtitle": "Supplier stock carried to your store: below the safety buffer of {buffer} the store shows 0. Cost changes that push a margin under {floor} % are flagged here.",
        "alerts_banner": "{count} products sell under your margin floor",
        "alerts_banner_one": "1 product sells under your margin floor",
        "alerts_text": "The supplier's cost went up; consider a new price or another supplier.",
        "linked": "Store items linked to a supplier",
        "linked_value": "{linked} of {items}",
        "pending": "Stock changes waiting for the store",
        "oldest": "(oldest {seconds} s)",
        "lag": "Sync lag, last 24 h (median · 95th · worst)",
        "lag_over": "over {count} items",
        "lag_over_one": "over 1 item",
        "lag_none": "nothing synced in the last 24 h",
        "last": "Last update in the store",
        "never": "never",
        "margins": "Margin alerts",
        "col.sku": "SKU", "col.price": "Price", "col.cost": "Supplier cost", "col.margin": "Margin", "col.since": "Since",
        "col.reason": "Reason",
        "margins_empty": "Every product with a known supplier cost sells above your margin floor.",
        "refused": "Items the store refused",
    },
    "fr": {
        "title": "Stock",
        "subtitle": "Le stock des fournisseurs reporté dans votre boutique : sous la marge de sécurité de {buffer}, la boutique affiche 0. Les hausses de coût qui font passer une marge sous {floor} % sont signalées ici.",
        "alerts_banner": "{count} produits se vendent sous votre marge minimale",
        "alerts_banner_one": "1 produit se vend sous votre marge minimale",
        "alerts_text": "Le coût du fournisseur a augmenté ; envisagez un nouveau prix ou un autre fournisseur.",
        "linked": "Articles de la boutique liés à un fournisseur",
        "linked_value": "{linked} sur {items}",
        "pending": "Changements de stock en attente pour la boutique",
        "oldest": "(le plus ancien : {seconds} s)",
        "lag": "Délai de synchronisation, 24 dernières heures (médiane · 95e · pire)",
        "lag_over": "sur {count} articles",
        "lag_over_one": "sur 1 article",
        "lag_none": "rien de synchronisé ces 24 dernières heures",
        "last": "Dernière mise à jour dans la boutique",
        "never": "jamais",
        "margins": "Alertes de marge",
        "col.sku": "SKU", "col.price": "Prix", "col.cost": "Coût fournisseur", "col.margin": "Marge", "col.since": "Depuis",
        "col.reason": "Raison",
        "margins_empty": "Chaque produit au coût fournisseur connu se vend au-dessus de votre marge minimale.",
        "refused": "Articles refusés par la boutique",
    },
})
