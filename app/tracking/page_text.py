"""The shipments page's phrases in English and French (app/web/phrases.py). Each condition has a
title and what usually helps ("condition.<name>.title" / ".advice")."""

from __future__ import annotations

from app.web.phrases import Phrasebook

TEXT = Phrasebook("tracking", {
    "en": {
        "title": "Shipments needing attention",
        "subtitle": "Parcels that are late, stuck, failed or returning, and numbers that do not exist. Customers were already told, with an honest new estimate.",
        "banner": "{count} shipments need attention",
        "banner_one": "1 shipment needs attention",
        "col.order": "Order", "col.problem": "Problem", "col.tracking": "Tracking", "col.status": "Status",
        "col.estimate": "Estimate", "col.since": "Since",
        "empty": "Nothing needs attention: every parcel is moving as expected.",
        "condition.invalid_number.title": "Invalid tracking number",
        "condition.invalid_number.advice": "Ask the supplier for the correct number; the customer was not sent it.",
        "condition.no_first_scan.title": "No carrier scan yet",
        "condition.no_first_scan.advice": "Tracking was issued but the carrier never scanned the parcel: ask the supplier for proof of hand-over.",
        "condition.no_scan.title": "Stuck in transit",
        "condition.no_scan.advice": "No new scan for days: contact the carrier or the supplier.",
        "condition.past_window.title": "Late",
        "condition.past_window.advice": "Past the route's usual delivery window; the customer was given a new estimate.",
        "condition.delivery_failed.title": "Delivery failed",
        "condition.delivery_failed.advice": "The carrier could not deliver; check the address with the customer.",
        "condition.exception.title": "Carrier exception",
        "condition.exception.advice": "The carrier reported a problem (customs, damage, loss...).",
        "condition.returning.title": "Returning to sender",
        "condition.returning.advice": "The parcel is going back: offer a reship or a refund.",
    },
    "fr": {
        "title": "Expéditions à surveiller",
        "subtitle": "Colis en retard, bloqués, en échec ou en retour, et numéros qui n'existent pas. Les clients ont déjà été prévenus, avec une nouvelle estimation honnête.",
        "banner": "{count} expéditions demandent votre attention",
        "banner_one": "1 expédition demande votre attention",
        "col.order": "Commande", "col.problem": "Problème", "col.tracking": "Suivi", "col.status": "Statut",
        "col.estimate": "Estimation", "col.since": "Depuis",
        "empty": "Rien à signaler : chaque colis avance comme prévu.",
        "condition.invalid_number.title": "Numéro de suivi invalide",
        "condition.invalid_number.advice": "Demandez le bon numéro au fournisseur ; il n'a pas été envoyé au client.",
        "condition.no_first_scan.title": "Pas encore de scan du transporteur",
        "condition.no_first_scan.advice": "Le suivi a été émis mais le transporteur n'a jamais scanné le colis : demandez au fournisseur la preuve de remise.",
        "condition.no_scan.title": "Bloqué en transit",
        "condition.no_scan.advice": "Aucun nouveau scan depuis des jours : contactez le transporteur ou le fournisseur.",
        "condition.past_window.title": "En retard",
        "condition.past_window.advice": "Au-delà du délai habituel de cette route ; le client a reçu une nouvelle estimation.",
        "condition.delivery_failed.title": "Échec de livraison",
        "condition.delivery_failed.advice": "Le transporteur n'a pas pu livrer ; vérifiez l'adresse avec le client.",
        "condition.exception.title": "Incident transporteur",
        "condition.exception.advice": "Le transporteur a signalé un problème (douane, dommage, perte...).",
        "condition.returning.title": "Retour à l'expéditeur",
        "condition.returning.advice": "Le colis repart : proposez une réexpédition ou un remboursement.",
    },
})
