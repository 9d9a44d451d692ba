"""Who is responsible: the controller, its DPO, EU representative and the
supervisory authority a data subject can complain to (Art. 13(1)(a)-(b),
Art. 13(2)(d))."""

from __future__ import annotations

from pydantic import Field

from datasteward.policy.model.base import CountryCode, OptionalEmail, PolicyModel

__all__ = ["Contact", "Controller", "Declarations", "SupervisoryAuthority"]


class Contact(PolicyModel):
    """A person or office that can be reached: DPO or EU representative."""

    name: str | None = Field(None, description="Name of the person or office.")
    email: OptionalEmail = Field(None, description="Email address.")
    phone: str | None = Field(None, description="Telephone number.")
    address: str | None = Field(None, description="Postal address.")


class SupervisoryAuthority(PolicyModel):
    """The data protection authority competent for the controller."""

    name: str = Field(description="Official name, e.g. 'Data State Inspectorate (DVI)'.")
    url: str | None = Field(None, description="Web address where complaints are explained.")
    country: CountryCode | None = Field(None, description="Member state of the authority.")


class Declarations(PolicyModel):
    """Promises the controller makes in its notice; the linter checks them
    against what the rest of the policy says it does."""

    no_third_country_transfers: bool = Field(
        False,
        description="The notice states that no personal data leaves the EEA.",
    )
    no_sale_of_data: bool = Field(False, description="The notice states that data is never sold.")
    no_automated_decisions: bool = Field(
        False,
        description="The notice states that no automated decision-making or profiling occurs.",
    )
    changes_weakening_protection_need_agreement: bool = Field(
        False,
        description=(
            "Policy changes that weaken protection take effect only with the data "
            "subject's agreement (material changes need renewed consent)."
        ),
    )


class Controller(PolicyModel):
    """The controller's identity and contact details (Art. 13(1)(a))."""

    legal_name: str = Field(description="Registered legal name.")
    short_name: str | None = Field(None, description="Name used in the notice text.")
    registration_number: str | None = Field(None, description="Company register number.")
    vat_number: str | None = Field(None, description="VAT identification number.")
    registered_address: str | None = Field(None, description="Registered (legal) address.")
    office_address: str | None = Field(None, description="Office or correspondence address.")
    country: CountryCode | None = Field(None, description="Country of establishment.")
    contact_email: OptionalEmail = Field(None, description="Email for privacy questions.")
    contact_phone: str | None = Field(None, description="Telephone for privacy questions.")
    website: str | None = Field(None, description="Web address of the controller.")
    time_zone: str = Field(
        "Europe/Riga",
        description="IANA time zone in which legal deadlines are computed.",
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages (ISO 639-1) in which the notice is offered; first is default.",
    )
    dpo: Contact | None = Field(None, description="Data protection officer (Art. 37-39).")
    eu_representative: Contact | None = Field(
        None, description="Representative in the EU for a controller outside it (Art. 27)."
    )
    supervisory_authority: SupervisoryAuthority | None = Field(
        None, description="Competent supervisory authority (Art. 13(2)(d), Art. 77)."
    )
    declarations: Declarations = Field(
        default_factory=Declarations,
        description="Promises made in the notice that the linter checks against the policy.",
    )
