"""The route catalogue as the source documents describe it (PRODUCT.md section 1).

Reference data, inserted by ``ruta migrate``: a new programme or provider here reaches every
database on the next deployment; an admin's later edits through the API are kept
(insert-only).

Providers carry the organisation id their people and machine clients authenticate with
(``mtpe-empleo`` is the public employment service of Lima in the demo organisations,
``sunedu`` SUNEDU...). SLA days are the service levels agreed with each provider: to accept a
referral, then to complete it once accepted; working days (Monday to Friday) unless stated.
"""

from __future__ import annotations

from typing import Any

PE_REGIONS = ["PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU"]
EC_REGIONS = ["EC-P", "EC-G", "EC-A", "EC-M", "EC-SD", "EC-T", "EC-O"]
EC_EMPRENDE = ["EC-P", "EC-G", "EC-A", "EC-M", "EC-SD"]

PROGRAMMES: list[dict[str, Any]] = [
    {"id": "pe-empleo", "route_type": "public_employment_service", "country": "PE",
     "name": "Centro de Empleo — Servicio Público de Empleo",
     "name_en": "Employment Centre — Public Employment Service",
     "operator": "Ministerio de Trabajo y Promoción del Empleo (MTPE)", "regions": PE_REGIONS},
    {"id": "pe-sunedu-reconocimiento", "route_type": "degree_recognition", "country": "PE",
     "name": "Reconocimiento de grados y títulos extranjeros (SUNEDU)",
     "name_en": "Foreign degree recognition (SUNEDU)",
     "operator": "SUNEDU", "regions": PE_REGIONS},
    {"id": "pe-revalidacion", "route_type": "degree_recognition", "country": "PE",
     "name": "Revalidación de título en universidad licenciada",
     "name_en": "Degree revalidation at a licensed university",
     "operator": "Universidades licenciadas", "regions": PE_REGIONS},
    {"id": "pe-enam", "route_type": "professional_licensing", "country": "PE",
     "name": "Examen Nacional de Medicina (ENAM)", "name_en": "National Medical Exam (ENAM)",
     "operator": "ASPEFAM", "regions": PE_REGIONS, "outcome_kind": "exam"},
    {"id": "pe-colegio-medico", "route_type": "professional_licensing", "country": "PE",
     "name": "Colegiatura y habilitación — Colegio Médico del Perú",
     "name_en": "Registration and licence — Medical College of Peru",
     "operator": "Colegio Médico del Perú", "regions": PE_REGIONS},
    {"id": "pe-colegio-enfermeros", "route_type": "professional_licensing", "country": "PE",
     "name": "Colegiatura — Colegio de Enfermeros del Perú",
     "name_en": "Registration — Nursing College of Peru",
     "operator": "Colegio de Enfermeros del Perú", "regions": PE_REGIONS},
    {"id": "pe-emprende-segura", "route_type": "entrepreneurship", "country": "PE",
     "name": "Emprende Segur@", "name_en": "Emprende Segur@ (entrepreneurship)",
     "operator": "OIT / socios", "regions": PE_REGIONS},
    {"id": "pe-certificacion-competencias", "route_type": "skills_certification",
     "country": "PE", "name": "Certificación de competencias laborales (MTPE)",
     "name_en": "Occupational skills certification (MTPE)",
     "operator": "MTPE — Programa Nacional para la Empleabilidad", "regions": PE_REGIONS},
    {"id": "ec-socio-empleo", "route_type": "public_employment_service", "country": "EC",
     "name": "Red Socio Empleo", "name_en": "Socio Empleo network",
     "operator": "Ministerio del Trabajo", "regions": EC_REGIONS},
    {"id": "ec-senescyt-registro", "route_type": "degree_recognition", "country": "EC",
     "name": "Registro de títulos extranjeros (SENESCYT)",
     "name_en": "Foreign degree registration (SENESCYT)",
     "operator": "SENESCYT", "regions": EC_REGIONS},
    {"id": "ec-acess-licencia", "route_type": "professional_licensing", "country": "EC",
     "name": "Habilitación profesional de salud (ACESS)",
     "name_en": "Health professional licensing (ACESS)",
     "operator": "ACESS / SENESCYT", "regions": EC_REGIONS},
    {"id": "ec-emprende-segura", "route_type": "entrepreneurship", "country": "EC",
     "name": "Emprende Segur@", "name_en": "Emprende Segur@ (entrepreneurship)",
     "operator": "OIT / socios", "regions": EC_EMPRENDE},
    {"id": "ec-setec-certificacion", "route_type": "skills_certification", "country": "EC",
     "name": "Certificación de competencias (SETEC)",
     "name_en": "Skills certification (SETEC)", "operator": "SETEC", "regions": EC_REGIONS},
]

PE_ALL = PE_REGIONS  # national bodies take applications from every programme region

PROVIDERS: list[dict[str, Any]] = [
    {"id": "mtpe-empleo", "organisation_id": "mtpe-empleo", "country": "PE",
     "name": "Centro de Empleo Lima — MTPE", "regions": ["PE-LMA", "PE-CAL"],
     "sla_accept_days": 5, "sla_complete_days": 60, "capacity": None,
     "required_documents": ["identity_document", "work_authorisation"],
     "programme_ids": ["pe-empleo", "pe-certificacion-competencias"]},
    {"id": "mtpe-empleo-regiones", "organisation_id": "mtpe-empleo-regiones",
     "country": "PE", "name": "Centros de Empleo regionales (Cusco, La Libertad, Lambayeque, "
     "Piura)", "regions": ["PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU"],
     "sla_accept_days": 5, "sla_complete_days": 60, "capacity": None,
     "required_documents": ["identity_document", "work_authorisation"],
     "programme_ids": ["pe-empleo", "pe-certificacion-competencias"]},
    {"id": "sunedu", "organisation_id": "sunedu", "country": "PE",
     "name": "SUNEDU — Reconocimiento de grados y títulos", "regions": PE_ALL,
     "sla_accept_days": 5, "sla_complete_days": 30, "capacity": None,
     "required_documents": ["identity_document", "apostilled_degree", "fee_receipt"],
     "programme_ids": ["pe-sunedu-reconocimiento"]},
    {"id": "unmsm-revalidacion", "organisation_id": "unmsm", "country": "PE",
     "name": "Universidad Nacional Mayor de San Marcos — Revalidación",
     "regions": PE_ALL, "sla_accept_days": 10, "sla_complete_days": 90, "capacity": 200,
     "required_documents": ["identity_document", "apostilled_degree", "transcript"],
     "programme_ids": ["pe-revalidacion"]},
    {"id": "aspefam-enam", "organisation_id": "aspefam-enam", "country": "PE",
     "name": "ASPEFAM — Examen Nacional de Medicina", "regions": PE_ALL,
     "sla_accept_days": 10, "sla_complete_days": 120, "capacity": None,
     "required_documents": ["identity_document", "recognised_degree"],
     "programme_ids": ["pe-enam"]},
    {"id": "colegio-medico-peru", "organisation_id": "colegio-medico-peru", "country": "PE",
     "name": "Colegio Médico del Perú — Colegiatura y habilitación", "regions": PE_ALL,
     "sla_accept_days": 10, "sla_complete_days": 60, "capacity": None,
     "required_documents": ["identity_document", "recognised_degree", "enam_result"],
     "programme_ids": ["pe-colegio-medico"]},
    {"id": "colegio-enfermeros-peru", "organisation_id": "colegio-enfermeros-peru",
     "country": "PE", "name": "Colegio de Enfermeros del Perú — Colegiatura",
     "regions": PE_ALL, "sla_accept_days": 10, "sla_complete_days": 60, "capacity": None,
     "required_documents": ["identity_document", "recognised_degree"],
     "programme_ids": ["pe-colegio-enfermeros"]},
    {"id": "oit-emprende-pe", "organisation_id": "oit-emprende-pe", "country": "PE",
     "name": "Emprende Segur@ Perú (OIT y socios)", "regions": PE_ALL,
     "sla_accept_days": 10, "sla_complete_days": 120, "capacity": 300,
     "required_documents": ["identity_document"], "programme_ids": ["pe-emprende-segura"]},
    {"id": "mintrabajo-socio-empleo", "organisation_id": "mintrabajo-socio-empleo",
     "country": "EC", "name": "Red Socio Empleo — Ministerio del Trabajo",
     "regions": EC_REGIONS, "sla_accept_days": 5, "sla_complete_days": 60,
     "capacity": None, "required_documents": ["identity_document", "work_authorisation"],
     "programme_ids": ["ec-socio-empleo"]},
    {"id": "senescyt", "organisation_id": "senescyt", "country": "EC",
     "name": "SENESCYT — Registro de títulos extranjeros", "regions": EC_REGIONS,
     "sla_accept_days": 5, "sla_complete_days": 30, "capacity": None,
     "required_documents": ["identity_document", "apostilled_degree"],
     "programme_ids": ["ec-senescyt-registro"]},
    {"id": "acess", "organisation_id": "acess", "country": "EC",
     "name": "ACESS — Habilitación de profesionales de la salud", "regions": EC_REGIONS,
     "sla_accept_days": 10, "sla_complete_days": 60, "capacity": None,
     "required_documents": ["identity_document", "registered_degree"],
     "programme_ids": ["ec-acess-licencia"]},
    {"id": "oit-emprende-ec", "organisation_id": "oit-emprende-ec", "country": "EC",
     "name": "Emprende Segur@ Ecuador (OIT y socios)", "regions": EC_EMPRENDE,
     "sla_accept_days": 10, "sla_complete_days": 120, "capacity": 300,
     "required_documents": ["identity_document"], "programme_ids": ["ec-emprende-segura"]},
    {"id": "setec", "organisation_id": "setec", "country": "EC",
     "name": "SETEC — Certificación de competencias", "regions": EC_REGIONS,
     "sla_accept_days": 10, "sla_complete_days": 90, "capacity": None,
     "required_documents": ["identity_document"], "programme_ids": ["ec-setec-certificacion"]},
]
