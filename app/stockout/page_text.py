"""The merchant's stock-out card on the order page, in English and French."""

from __future__ import annotations

from app.web.phrases import Phrasebook

TEXT = Phrasebook({
    "en": {
        "heading": "Out of stock: the customer's choice",
        "lines": "Items no supplier can send",
        "amount": "Refund if cancelled",
        "status.asked": "Asked: waiting for the customer's answer",
        "status.waiting": "The customer waits for the restock: send the items when they are back",
        "status.refund_requested": "The customer cancelled these items: refund asked of the store",
        "status.refunded": "The customer cancelled these items: refund confirmed by the store",
        "status.failed": "The customer cancelled these items, but the refund failed: refund them yourself",
        "chosen": "Answered {at}",
    },
    "fr": {
        "heading": "Rupture de stock : le choix du client",
        "lines": "Articles qu’aucun fournisseur ne peut envoyer",
        "amount": "Remboursement en cas d’annulation",
        "status.asked": "Demandé : en attente de la réponse du client",
        "status.waiting": "Le client attend le réassort : envoyez les articles dès leur retour",
        "status.refund_requested": "Le client a annulé ces articles : remboursement demandé à la boutique",
        "status.refunded": "Le client a annulé ces articles : remboursement confirmé par la boutique",
        "status.failed": "Le client a annulé ces articles, mais le remboursement a échoué : remboursez-le vous-même",
        "chosen": "Réponse le {at}",
    },
})
